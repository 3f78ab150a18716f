"""A chat box for chapter 11's assistant (ipywidgets 7.7 and 8 alike).

:class:`ChatUI` wraps a :class:`~aigc_course.apps.assistant.Conversation`: a text box, a Send button and a
log of the turns. :meth:`ChatUI.send` is what the button calls, so the UI works (and is tested)
without a browser; in a notebook, display ``ui.widget``.
"""

from __future__ import annotations

import html

from ..apps.assistant import Conversation, Reply
from ..core import i18n


def format_turn(user: str, reply: Reply) -> str:
    """One turn as HTML: the customer's message, then the reply with its intent and confidence (or the hand-over)."""
    tag = (i18n.tr("handed over to a human") if reply.handover
           else i18n.tr("{intent} · confidence {confidence:.2f}", intent=reply.intent, confidence=reply.confidence))
    if reply.missing:
        tag += i18n.tr(" · waiting for {slot}", slot=reply.missing[0])
    you, assistant = i18n.tr("you:"), i18n.tr("assistant")
    return (f"<div style='margin:4px 0'><b>{you}</b> {html.escape(user)}</div>"
            f"<div style='margin:4px 0 10px 16px'><b>{assistant}</b> <i style='color:#777'>({html.escape(tag)})</i>: "
            f"{html.escape(reply.text)}</div>")


class ChatUI:
    """``ChatUI(conversation).widget`` is a VBox (log, text box, Send); ``send(text)`` runs one turn."""

    def __init__(self, conversation: Conversation):
        import ipywidgets as w

        self.conversation = conversation
        self.log = w.HTML(value="<i>" + i18n.tr("Ask the Inkwell Books assistant something.") + "</i>")
        self.box = w.Text(placeholder=i18n.tr("Type a question and press Enter"), layout=w.Layout(width="70%"))
        self.button = w.Button(description=i18n.tr("Send"))
        self.button.on_click(lambda _: self._from_box())
        if w.__version__.startswith("7"):  # Enter submits in 7; in 8 (on_submit deprecated) use the button
            self.box.on_submit(lambda _: self._from_box())
        self.widget = w.VBox([self.log, w.HBox([self.box, self.button])])

    def _from_box(self) -> None:
        if self.box.value.strip():
            self.send(self.box.value)
            self.box.value = ""

    def send(self, text: str) -> Reply:
        reply = self.conversation.send(text)
        self.log.value = "".join(format_turn(u, r) for u, r in self.conversation.history)
        return reply


def chat_widget(conversation: Conversation) -> ChatUI:
    """A :class:`ChatUI` around ``conversation`` (display ``.widget``)."""
    return ChatUI(conversation)
