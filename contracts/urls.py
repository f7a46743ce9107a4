app_name = "contracts"
urlpatterns = []
