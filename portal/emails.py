"""Templated email in the recipient's language: templates/emails/<name>_subject.txt, .txt, .html."""

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.template.loader import render_to_string
from django.utils import translation


def send_templated_email(*, to: list[str], template: str, context: dict, language: str) -> None:
    if not to:
        return
    context = {**context, "site_url": settings.SITE_URL}
    with translation.override(language):
        subject = render_to_string(f"emails/{template}_subject.txt", context).strip()
        text = render_to_string(f"emails/{template}.txt", context)
        html = render_to_string(f"emails/{template}.html", context)
    message = EmailMultiAlternatives(subject=" ".join(subject.split()), body=text, to=to)
    message.attach_alternative(html, "text/html")
    message.send()
