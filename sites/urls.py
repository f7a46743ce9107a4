from django.urls import path

from sites import views

app_name = "sites"
urlpatterns = [
    path("areas/", views.area_list, name="area-list"),
    path("areas/locate/", views.locate, name="locate"),
    path("areas/<str:code>/", views.kelurahan_detail, name="kelurahan-detail"),
]
