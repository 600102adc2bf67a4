"""Forms of the consent screens: they only parse and check input; the services decide."""

from __future__ import annotations

from django import forms
from django.utils import timezone

from consent.choices import NotificationChannel, NotificationFrequency
from consent.validators import validate_evidence_date

EVIDENCE_CHANNELS = [
    ("web", "Web form"),
    ("phone", "Phone call (recorded)"),
    ("letter", "Signed letter or form"),
    ("email", "Email"),
    ("in_person", "In person (engineer visit)"),
]


class ReasonForm(forms.Form):
    reason = forms.CharField(
        max_length=500, widget=forms.TextInput(attrs={"size": 40}), help_text="Why (kept in the history)"
    )


class GrantForm(ReasonForm):
    evidence_channel = forms.ChoiceField(choices=EVIDENCE_CHANNELS)
    evidence_date = forms.DateField(
        initial=timezone.localdate,
        validators=[validate_evidence_date],
        # An <input type=date> takes only YYYY-MM-DD: the en-GB default (DD/MM/YYYY) would
        # leave the field empty in the browser.
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # The browser's date picker offers no day after today (checked again on the server).
        self.fields["evidence_date"].widget.attrs["max"] = timezone.localdate().isoformat()

    evidence_reference = forms.CharField(max_length=100, required=False)
    override_allowed = forms.BooleanField(
        required=False, initial=True, label="May override each event with the boost button"
    )


class OverrideForm(ReasonForm):
    override_allowed = forms.TypedChoiceField(
        choices=[("true", "Allow override"), ("false", "Forbid override")],
        coerce=lambda value: value == "true",
    )


class PreferencesForm(ReasonForm):
    notification_channel = forms.ChoiceField(choices=NotificationChannel.choices)
    notification_frequency = forms.ChoiceField(choices=NotificationFrequency.choices)


class TenancyChangeForm(ReasonForm):
    customer_reference = forms.CharField(max_length=64, required=False, help_text="Customer-system id, if any")
    name = forms.CharField(max_length=200)
    email = forms.EmailField(required=False)
    phone = forms.CharField(max_length=32, required=False)
    postal_address = forms.CharField(max_length=300, required=False, help_text="Empty: the premise's address")
    at = forms.DateTimeField(
        label="Moved in at (Europe/London)",
        initial=lambda: timezone.localtime().strftime("%Y-%m-%dT%H:%M"),
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
        input_formats=["%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M", "%Y-%m-%dT%H:%M:%S"],
    )
    notification_channel = forms.ChoiceField(choices=NotificationChannel.choices, initial=NotificationChannel.EMAIL)
    notification_frequency = forms.ChoiceField(
        choices=NotificationFrequency.choices, initial=NotificationFrequency.EACH_EVENT
    )

    def clean(self):
        cleaned = super().clean()
        channel = cleaned.get("notification_channel")
        if channel == NotificationChannel.EMAIL and not cleaned.get("email"):
            self.add_error("email", "needed to send the consent request by email")
        if channel == NotificationChannel.SMS and not cleaned.get("phone"):
            self.add_error("phone", "needed to send the consent request by SMS")
        return cleaned


class CsvUploadForm(forms.Form):
    file = forms.FileField(help_text="UTF-8 CSV with a header row")

    def clean_file(self):
        upload = self.cleaned_data["file"]
        if not upload.name.lower().endswith(".csv"):
            raise forms.ValidationError("choose a .csv file")
        return upload


class ImportUploadForm(CsvUploadForm):
    dry_run = forms.BooleanField(required=False, label="Dry run (validate and count, write nothing)")
