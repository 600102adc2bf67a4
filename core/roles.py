"""Roles as Django groups: viewer (no controls, no personal data), operator (curtails,
acknowledges), engineer (reference data, imports, the admin; also staff)."""

from __future__ import annotations

VIEWER = "viewer"
OPERATOR = "operator"
ENGINEER = "engineer"

# Permission codenames as "app_label.codename".
CONTROL_CURTAILMENT = "curtailment.control_curtailment"
CONFIGURE_FEEDERS = "feeders.configure_feeders"
MANAGE_ASP_CONTRACTS = "curtailment.manage_asp_contracts"
MANAGE_CONSENT = "consent.manage_consent"
VIEW_PERSONAL_DATA = "consent.view_personal_data"
IMPORT_PREMISES = "consent.import_premises"
EXPORT_REPORTS = "curtailment.export_reports"

GROUP_PERMISSIONS: dict[str, list[str]] = {
    VIEWER: [EXPORT_REPORTS],
    OPERATOR: [EXPORT_REPORTS, CONTROL_CURTAILMENT, MANAGE_CONSENT, VIEW_PERSONAL_DATA],
    ENGINEER: [
        EXPORT_REPORTS,
        CONTROL_CURTAILMENT,
        MANAGE_CONSENT,
        VIEW_PERSONAL_DATA,
        CONFIGURE_FEEDERS,
        MANAGE_ASP_CONTRACTS,
        IMPORT_PREMISES,
    ],
}


# The admin for engineers: they may view every table of these apps, and edit only the
# reference data below (audited, see core.admin.AuditedAdmin). Everything else (consent
# and its history, events, actions, service requests, the audit trail) changes only through
# its services, which keep the state machines, the history and the audit trail whole.
ADMIN_VIEW_APPS = ("core", "feeders", "dcc", "consent", "curtailment", "axes")
ADMIN_EDITS = [
    "feeders.add_substation",
    "feeders.change_substation",
    "feeders.add_feeder",
    "feeders.change_feeder",
    "curtailment.add_aspcontract",
    "curtailment.change_aspcontract",
]
# An engineer unlocks a locked-out login by clearing its failed attempts (audited,
# accounts.admin).
LOGIN_UNLOCK = ["axes.delete_accessattempt"]
STAFF_ROLES = {ENGINEER}


def _permissions(dotted_names: list[str]) -> list:
    from django.contrib.auth.models import Permission

    wanted = []
    for dotted in dotted_names:
        app_label, codename = dotted.split(".")
        wanted.append(Permission.objects.get(content_type__app_label=app_label, codename=codename))
    return wanted


def roles_ensure() -> None:
    from django.contrib.auth.models import Group, Permission

    for group_name, perms in GROUP_PERMISSIONS.items():
        group, _ = Group.objects.get_or_create(name=group_name)
        wanted = _permissions(perms)
        if group_name in STAFF_ROLES:
            wanted += _permissions(ADMIN_EDITS + LOGIN_UNLOCK)
            wanted += Permission.objects.filter(
                content_type__app_label__in=ADMIN_VIEW_APPS, codename__startswith="view_"
            )
        group.permissions.set(wanted)


def role_grant(*, user, role: str) -> None:
    from django.contrib.auth.models import Group

    user.groups.add(Group.objects.get(name=role))
    if role in STAFF_ROLES and not user.is_staff:
        user.is_staff = True
        user.save(update_fields=["is_staff"])


def user_roles(user) -> dict[str, bool]:
    if user is None or not user.is_authenticated:
        return {"can_control": False, "can_configure": False, "can_view_personal_data": False}
    return {
        "can_control": user.has_perm(CONTROL_CURTAILMENT),
        "can_configure": user.has_perm(CONFIGURE_FEEDERS),
        "can_view_personal_data": user.has_perm(VIEW_PERSONAL_DATA),
    }
