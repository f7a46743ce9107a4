# Placeholder: the pages helper replaces this module.
app_name = "sites"
urlpatterns = []
