from django.urls import path

from sites import views

app_name = "sites"
urlpatterns = [
    path("", views.area_list, name="area-list"),
    path("locate/", views.locate, name="locate"),
    path("<str:code>/", views.kelurahan_detail, name="kelurahan-detail"),
]
