"""Append-only tables and guarded status transitions, shared by every lifecycle."""

from collections.abc import Callable, Mapping

from django.db import migrations, models, transaction
from django.utils.translation import gettext as _

from portal.errors import Conflict

_FUNCTION = """
CREATE OR REPLACE FUNCTION mitra_refuse_change() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'table % is append-only', TG_TABLE_NAME
        USING ERRCODE = 'insufficient_privilege';
END;
$$ LANGUAGE plpgsql;
"""


def AppendOnly(table: str) -> migrations.RunSQL:  # noqa: N802 - reads as a migration operation
    """Migration operation: refuse UPDATE and DELETE on `table` at the database level."""
    return migrations.RunSQL(
        sql=_FUNCTION + f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
        f"FOR EACH ROW EXECUTE FUNCTION mitra_refuse_change();",
        reverse_sql=f"DROP TRIGGER IF EXISTS {table}_append_only ON {table};",
    )


def transition(
    *,
    instance: models.Model,
    to: str,
    allowed: Mapping[str, set[str]],
    log_model: type[models.Model],
    log_fields: Mapping[str, object],
    actor,
    reason: str = "",
    field: str = "status",
    extra: Mapping[str, object] | None = None,
    check: Callable[[models.Model], None] | None = None,
    after: Callable[[models.Model, models.Model], None] | None = None,
    conflict_message: str | None = None,
) -> models.Model:
    """Move `instance` to status `to` if the transition table allows it from its current status.

    The row is locked first, so of two concurrent requests exactly one sees the old status and
    wins; the other gets a Conflict naming the status it found (`conflict_message` may say it in
    the caller's words, with %(old)s and %(new)s). `check(locked)` may refuse after the table
    allowed the move; `after(locked, log_row)` runs in the same transaction, so if it fails the
    change and its log row roll back with it. Records one log row.
    """
    model = type(instance)
    with transaction.atomic():
        locked = model.objects.select_for_update().get(pk=instance.pk)
        current = getattr(locked, field)
        if to not in allowed.get(current, set()):
            label = locked._meta.get_field(field).choices
            names = dict(label) if label else {}
            raise Conflict(
                (conflict_message or _("Cannot change status from “%(old)s” to “%(new)s”."))
                % {"old": names.get(current, current), "new": names.get(to, to)},
                code="invalid_transition",
            )
        if check is not None:
            check(locked)
        updates = {field: to, **(extra or {})}
        model.objects.filter(pk=locked.pk).update(**updates)
        for name, value in updates.items():
            setattr(instance, name, value)
            setattr(locked, name, value)
        log = log_model.objects.create(
            **log_fields, actor=actor, old_status=current, new_status=to, reason=reason
        )
        if after is not None:
            after(locked, log)
    return instance
