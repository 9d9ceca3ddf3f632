"""Photos: the text in them is read, and a photo with text is kept like a document the owner sent.

In a private chat the largest photo size within PHOTO_MAX_PIXELS and DOCUMENT_MAX_MB is
downloaded and its text read with Tesseract (`bot.knowledge.ocr`, in the owner's language and
English, within PHOTO_READ_SECONDS). A photo with readable text (a bank's offer, an invoice, a
price list) becomes a short owner document (`documents`): titled by its first meaningful line,
stored in the owner's private store, summarised with the same example buttons, counted like a
document, shared with a consultant who has the owner's request, and its caption answered with
it in view. A photo without readable text, in a group, with PHOTO_READ_SECONDS=0, or when
Tesseract is missing, fails or is too slow, is answered as before: its caption is the question;
without one, the owner is asked what they would like to know about it.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import replace

from telegram import PhotoSize, Update
from telegram.constants import ParseMode
from telegram.ext import MessageHandler, filters

from bot.channels.telegram.formatting import escape
from bot.channels.telegram.handlers.deps import (
    MESSAGES,
    BotContext,
    addressed_to_bot,
    downloaded,
    is_private,
    language_of,
    texts_of,
    user_key,
)
from bot.channels.telegram.handlers.documents import (
    MB,
    ONLY_YOU,
    already_have,
    example_buttons,
    kept_copy,
    share_in_handover,
    store_upload,
)
from bot.channels.telegram.handlers.handover import handed_over
from bot.channels.telegram.handlers.streaming import answer_question, give_back, typing, within_limits
from bot.knowledge.ocr import PhotoText, read_photo_text
from bot.knowledge.reading_apart import read_upload_apart
from bot.knowledge.uploads import Upload
from bot.locales import Translate
from bot.storage.models import OwnerDocument

log = logging.getLogger(__name__)

KEPT, STOPPED, NO_TEXT = "kept", "stopped", "no text"  # what became of a photo's text
DOWNLOAD_SECONDS = 30.0  # for a photo from Telegram (at most DOCUMENT_MAX_MB)


async def photo_message(update: Update, context: BotContext) -> None:
    """A photo: read as a document when it has text (private chats); else its caption is the
    question, and without one the owner is asked what they want to know."""
    if not addressed_to_bot(update, context.bot.username, context.bot.id):
        return
    caption = update.effective_message.caption or ""
    if context.bot.username:
        caption = caption.replace(f"@{context.bot.username}", " ")
    caption = caption.strip()
    read = NO_TEXT
    if is_private(update) and context.deps.settings.photo_read_seconds:
        read = await _read_as_document(update, context)
    if read == STOPPED:
        return
    if read == KEPT:
        if caption and not await handed_over(update, context, f"📷 {caption}"):  # a consultant's, in a hand-over
            await answer_question(update, context, caption, input_kind="photo", counted=True)
        return
    if not caption:
        _ = texts_of(update, context)
        await update.effective_message.reply_text(
            _(
                "What would you like to know about this photo? I can't see pictures yet: "
                "send it again with your question as its caption, or type the question."
            )
        )
        return
    if is_private(update) and await handed_over(update, context, f"📷 {caption}"):
        return
    await answer_question(update, context, caption, input_kind="photo")


async def _read_as_document(update: Update, context: BotContext) -> str:
    """Read the photo's text and keep it as the owner's document, then summarise it: KEPT (its
    caption, counted already, is to be answered), STOPPED (the owner is over their limits, or
    erased their data meanwhile) or NO_TEXT (answered as before)."""
    message, deps = update.effective_message, context.deps
    settings, _ = deps.settings, texts_of(update, context)
    size = largest(message.photo, settings.photo_max_pixels, settings.document_max_mb * MB)
    if size is None:
        return NO_TEXT
    async with typing(context.bot, update.effective_chat.id):
        data = await downloaded(size, DOWNLOAD_SECONDS, "a photo to read its text")
        if data is None:
            return NO_TEXT
        read = await read_photo_text(data, language_of(update, context), seconds=settings.photo_read_seconds)
    if read is None:
        return NO_TEXT
    if not await within_limits(update, context):  # like a document: reading it counts as a question
        return STOPPED
    name = f"photo-{message.date:%Y-%m-%d-%H%M}.jpg"
    try:
        async with typing(context.bot, update.effective_chat.id):
            kept = await _keep(update, context, name, data, read)
    except Exception:  # the photo's text is a bonus: a failing store never stops its answer
        log.exception("could not keep the text of a photo of %s", user_key(update))
        kept = None
    if kept is None:
        await give_back(update, context)  # answered as before, and counted then
        return NO_TEXT
    document, summary = kept
    if document is None:  # /forget while it was read
        return STOPPED
    if await share_in_handover(update, context, data, name):
        summary += "\n" + _("I've passed it on to the consultant too.")
    await message.reply_text(summary, parse_mode=ParseMode.HTML, reply_markup=example_buttons(document, _))
    log.info("a photo of %s read as a document (%d words)", user_key(update), read.words)
    return KEPT


async def _keep(
    update: Update, context: BotContext, name: str, data: bytes, read: PhotoText
) -> tuple[OwnerDocument | None, str] | None:
    """The owner's document for the photo and its summary: stored now, or the copy sent before
    (a forward: kept once). None when nothing in the text could be kept; no document when the
    owner erased their data while it was stored."""
    deps, owner, _ = context.deps, user_key(update), texts_of(update, context)
    content = hashlib.sha256(data).hexdigest()
    document = await kept_copy(context, await deps.storage.same_document(owner, content))
    if document is not None:
        return document, already_have(document, _)
    upload = await _upload(context, name, read)
    if upload is None:
        return None
    document = await store_upload(context, owner, update.effective_chat.id, upload, len(data), content)
    return document, summary_text(upload, _)


def largest(sizes: tuple[PhotoSize, ...], max_pixels: int, max_bytes: float) -> PhotoSize | None:
    """The largest of a photo's sizes within `max_pixels` and `max_bytes` (a size whose bytes
    Telegram does not say is taken by its pixels), or None when every size is over."""
    fitting = [size for size in sizes if size.width * size.height <= max_pixels and (size.file_size or 0) <= max_bytes]
    return max(fitting, key=lambda size: size.width * size.height, default=None)


async def _upload(context: BotContext, name: str, read: PhotoText) -> Upload | None:
    """The photo's text as an owner's document (the document readers' own splitting, in a
    process of its own); None when nothing in it can be kept."""
    settings = context.deps.settings
    try:
        upload = await read_upload_apart(
            name,
            read.markdown.encode(),
            "md",
            settings.document_max_pages,
            settings.chunk_size,
            settings.chunk_overlap,
            seconds=settings.document_read_seconds,
        )
    except Exception:  # a photo's text is short; whatever stops it, the photo is answered as before
        log.warning("could not keep the text of a photo as a document", exc_info=True)
        return None
    return replace(upload, file_name=name, kind="photo") if upload.passages else None


def summary_text(upload: Upload, _: Translate) -> str:
    """Two lines: the photo's text was read (its title, its words), and how to ask about it."""
    read = _("📷 I've read the text in your photo: “{title}” (words: {words}).")
    return read.format(title=escape(upload.title), words=upload.words) + "\n" + _(ONLY_YOU)


HANDLERS = [MessageHandler(MESSAGES & filters.PHOTO, photo_message)]
