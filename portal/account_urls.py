# Placeholder: the pages helper replaces this module.
urlpatterns = []
