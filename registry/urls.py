from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path

from registry.views import account, home

urlpatterns = [
    path("", home.index, name="home"),
    path("accounts/login/", auth_views.LoginView.as_view(), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path(
        "accounts/password/",
        auth_views.PasswordChangeView.as_view(),
        name="password_change",
    ),
    path(
        "accounts/password/done/",
        auth_views.PasswordChangeDoneView.as_view(),
        name="password_change_done",
    ),
    path("accounts/token/", account.api_token, name="api_token"),
    path("", include("registry.records.urls")),
    path("research/", include("registry.research.urls")),
    path("admin/", admin.site.urls),
    path("api/v1/", include("api.urls")),
]

handler404 = "registry.views.errors.not_found"
handler500 = "registry.views.errors.server_error"
