"""The signed-in user's own profile: the time zone every page shows times in."""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.contrib.auth.forms import AuthenticationForm
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_POST

from accounts.selectors import user_time_zone
from accounts.services.preferences import time_zone_names, user_time_zone_set
from core.problems import problem_response
from portal.access import signed_in_user
from portal.middleware import SESSION_TIME_ZONE


class TimeZoneForm(forms.Form):
    CHOOSE = "Choose a time zone from the list."
    time_zone = forms.CharField(error_messages={"required": CHOOSE})

    def clean_time_zone(self) -> str:
        zone = self.cleaned_data["time_zone"]
        if zone not in time_zone_names():
            raise ValidationError(self.CHOOSE)
        return zone


class PortalLoginView(auth_views.LoginView):
    """Sign-in that also puts the user's time zone in the session (one read, once)."""

    def form_valid(self, form: AuthenticationForm) -> HttpResponse:
        response = super().form_valid(form)
        zone = user_time_zone(form.get_user())
        if zone:
            self.request.session[SESSION_TIME_ZONE] = zone
        return response


@login_required
def profile(request: HttpRequest) -> HttpResponse:
    user = signed_in_user(request)
    form = TimeZoneForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        zone = user_time_zone_set(user=user, time_zone=form.cleaned_data["time_zone"])
        request.session[SESSION_TIME_ZONE] = zone
        messages.success(request, f"Times are now shown in {zone}.")
        return redirect("profile")
    current = request.session.get(SESSION_TIME_ZONE) or user_time_zone(user)
    return render(
        request,
        "profile.html",
        {
            "form": form,
            "current_zone": current,
            "zones": time_zone_names(),
            "now": timezone.now(),
        },
        status=400 if form.errors else 200,
    )


@require_POST
@login_required
def profile_time_zone(request: HttpRequest) -> HttpResponse:
    """The browser's time zone, posted once by static/js/portal.js: taken only when the
    user has not chosen one (a choice made on the profile page is kept)."""
    form = TimeZoneForm(request.POST)
    if not form.is_valid():
        return problem_response(
            400,
            detail="time_zone: choose a time zone from the list",
            errors=[{"field": "time_zone", "message": "Unknown time zone"}],
        )
    zone = user_time_zone_set(
        user=signed_in_user(request), time_zone=form.cleaned_data["time_zone"], only_if_unset=True
    )
    request.session[SESSION_TIME_ZONE] = zone
    return HttpResponse(status=204)
