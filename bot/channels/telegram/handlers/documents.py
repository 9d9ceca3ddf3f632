"""Owners' own documents: a PDF, Word (.docx), text or Markdown file sent in a private chat is
read with the knowledge base's readers (`bot.knowledge.uploads`), and its passages go into the
owner's private store (`bot.index.owner_documents`), never into the knowledge base. The owner
gets a two-line summary (title, pages, sections) and two example questions; their next
questions search it beside the knowledge, cited `[D1]`. /documents lists them, each with a
delete button; /forget and retention delete them and their passages. A caption is a question
about the document, answered once it is read; a document sent while a consultant has the
owner's request is passed on to them too (that is how an owner shares one). Admins see only
that a document exists and its size (/transcript).
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import hashlib
import logging
from dataclasses import replace

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.constants import ParseMode
from telegram.error import TelegramError
from telegram.ext import CallbackQueryHandler, CommandHandler, MessageHandler, filters

from bot.channels.telegram.formatting import escape
from bot.channels.telegram.handlers.buttons import GONE
from bot.channels.telegram.handlers.deps import (
    MESSAGES,
    BotContext,
    acknowledge,
    addressed_to_bot,
    is_private,
    texts_of,
    user_key,
)
from bot.channels.telegram.handlers.handover import handed_over
from bot.channels.telegram.handlers.streaming import answer_question, typing, within_limits
from bot.knowledge.documents import TooManyPages
from bot.knowledge.files import KnowledgeFileError
from bot.knowledge.reading_apart import read_upload_apart
from bot.knowledge.uploads import Upload, document_kind
from bot.locales import N_, Translate
from bot.storage.models import OwnerDocument

log = logging.getLogger(__name__)

MB = 1024 * 1024
# A document whose passages are still fewer than its row says this long after it was sent was
# cut off by a killed bot (storing one takes seconds; another worker may be storing one now).
UNFINISHED_AFTER = dt.timedelta(minutes=10)
RETENTION_BATCH = 500  # expired documents deleted at once: one by one, 1,000 took minutes
SHOWN_TITLE = 40  # characters of a title on a button
EXAMPLES = [N_("What are the main points of “{title}”?"), N_("What should I improve in “{title}”?")]


async def document_received(update: Update, context: BotContext) -> None:
    """A file from an owner: checked, downloaded, read, stored privately, summarised."""
    message, deps = update.effective_message, context.deps
    _ = texts_of(update, context)
    if not is_private(update):
        if addressed_to_bot(update, context.bot.username, context.bot.id):
            await message.reply_text(_("Send me documents in a private chat: they stay private to you."))
        return
    sent = message.document
    kind = document_kind(sent.file_name, sent.mime_type)
    if kind is None:
        await message.reply_text(_("I can read PDF, Word (.docx), text and Markdown files: please send one of those."))
        return
    limit = deps.settings.document_max_mb
    if (sent.file_size or 0) > limit * MB:
        await message.reply_text(_too_big(_, sent.file_size, limit))
        return
    if not await within_limits(update, context):  # reading costs more than a question: it counts as one
        return
    async with typing(context.bot, update.effective_chat.id):
        try:
            data = bytes(await (await context.bot.get_file(sent.file_id)).download_as_bytearray())
        except TelegramError as exc:  # Telegram serves bots files up to 20 MB; or the network failed
            log.warning("could not download a document of %s: %s", user_key(update), exc)
            await message.reply_text(_("I couldn't get that file from Telegram; please send it again."))
            return
        if len(data) > limit * MB:
            await message.reply_text(_too_big(_, len(data), limit))
            return
        content = hashlib.sha256(data).hexdigest()
        document = await kept_copy(context, await deps.storage.same_document(user_key(update), content))
        if document is None:
            upload = await _read(update, context, sent.file_name or "", data, kind)
            if upload is None:
                return
            chat_id = update.effective_chat.id
            document = await store_upload(context, user_key(update), chat_id, upload, len(data), content)
            if document is None:
                return
            summary = summary_text(upload, _)
        else:  # sent again (a forward, a second tap): kept once, so its passages are not found twice
            summary = already_have(document, _)
    if await share_in_handover(update, context, data, sent.file_name or document.file_name):
        summary += "\n" + _("I've passed it on to the consultant too.")
    await message.reply_text(summary, parse_mode=ParseMode.HTML, reply_markup=example_buttons(document, _))
    question = (message.caption or "").strip()
    if question and not await handed_over(update, context, question):  # a consultant has the request: theirs
        await answer_question(update, context, question, input_kind="document", counted=True)


async def kept_copy(context: BotContext, document: OwnerDocument | None) -> OwnerDocument | None:
    """The owner's earlier copy of a document, if it was stored whole. One whose passages a killed
    bot left unfinished is deleted (row and passages), so the copy sent now is read instead of
    "I still have it" for a document no answer could cite. (A chat's messages are handled one at
    a time, so this is never a copy still being stored.)"""
    if document is None or not await _unfinished(context, document):
        return document
    log.info("document %s of %s was left unfinished; storing it again", document.id, document.user_id)
    await _drop(context, document)
    return None


async def _unfinished(context: BotContext, document: OwnerDocument) -> bool:
    store = context.deps.advisor.owner_documents
    return await asyncio.to_thread(store.count, document.user_id, document.id) < (document.chunks or 0)


async def _drop(context: BotContext, document: OwnerDocument) -> None:
    """Delete a document: its passages first, then its row (a row is what makes passages searchable)."""
    await asyncio.to_thread(context.deps.advisor.owner_documents.delete, document.user_id, document.id)
    await context.deps.storage.delete_document(document.user_id, document.id)


def _too_big(_: Translate, size: int, limit: float) -> str:
    return _("That file is {size} MB; I read documents up to {limit} MB.").format(
        size=f"{size / MB:.1f}", limit=f"{limit:g}"
    )


async def _read(update: Update, context: BotContext, name: str, data: bytes, kind: str) -> Upload | None:
    """The document read and split (in a thread), or None once the owner knows why not."""
    settings, _ = context.deps.settings, texts_of(update, context)
    try:
        upload = await read_upload_apart(  # a hostile file hurts its own process, never the answers
            name,
            data,
            kind,
            settings.document_max_pages,
            settings.chunk_size,
            settings.chunk_overlap,
            seconds=settings.document_read_seconds,
        )
    except TooManyPages as exc:
        await update.effective_message.reply_text(
            _(
                "That document has about {pages} pages; I read up to {limit}. Send me the part you want me to read."
            ).format(pages=exc.pages, limit=exc.limit)
        )
        return None
    except KnowledgeFileError as exc:
        log.info("could not read a document of %s: %s", user_key(update), exc.reason)
        upload = None
    if upload is None or not upload.passages:
        unreadable = _(
            "I couldn't read {name}: it may be damaged, protected by a password, or a scan without text. "
            "Try saving it again as PDF or Word."
        )
        await update.effective_message.reply_text(unreadable.format(name=name or kind.upper()))
        return None
    return upload


async def store_upload(
    context: BotContext, owner: str, chat_id: int, upload: Upload, size: int, content_sha256: str
) -> OwnerDocument | None:
    """Record the document, then embed its passages into the owner's store; a failure leaves
    neither behind. None when the owner erased their data meanwhile (/forget)."""
    storage, store = context.deps.storage, context.deps.advisor.owner_documents
    document = await storage.add_document(
        owner,
        chat_id,
        upload.file_name,
        title=upload.title,
        kind=upload.kind,
        pages=upload.pages or None,
        sections=len(upload.sections) or None,
        chunks=len(upload.passages),
        size_bytes=size,
        content_sha256=content_sha256,
    )
    texts = [p.text for p in upload.passages]
    embedded = [p.embedding_text for p in upload.passages]
    metadatas = [
        {"title": upload.title, "heading": p.heading, "page": p.page, "chunk_index": p.chunk_index}
        for p in upload.passages
    ]
    try:
        await asyncio.to_thread(store.add, owner, document.id, texts, embedded, metadatas)
    except Exception:
        await storage.delete_document(owner, document.id)
        with contextlib.suppress(Exception):
            await asyncio.to_thread(store.delete, owner, document.id)
        raise
    if await storage.get_document(owner, document.id) is None:  # /forget while it was read
        await asyncio.to_thread(store.delete, owner, document.id)
        return None
    if context.owner is not None:  # read before it was stored: the caption's answer searches it too
        context.owner = replace(context.owner, has_documents=True)
    return document


def summary_text(upload: Upload, _: Translate) -> str:
    """Two lines: what was read (title, pages, sections), and how to ask about it."""
    title = escape(upload.title)
    sections = len(upload.sections) or 1
    if upload.pages:
        read = _("📄 I've read “{title}” (pages: {pages}, sections: {sections}).")
        first = read.format(title=title, pages=upload.pages, sections=sections)
    else:
        read = _("📄 I've read “{title}” (sections: {sections}, words: {words}).")
        first = read.format(title=title, sections=sections, words=upload.words)
    return f"{first}\n{_(ONLY_YOU)}"


ONLY_YOU = N_(
    "Only you can ask about it: my answers cite it as [D1], [D2]… and /documents lists your documents. For example:"
)


def already_have(document: OwnerDocument, _: Translate) -> str:
    title = escape(document.title or document.file_name)
    sent = _("📄 You sent me “{title}” before, on {date}: I still have it, so I haven't stored it again.")
    return (
        sent.format(title=title, date=document.created_at.strftime("%Y-%m-%d"))
        + "\n"
        + _("Ask me about it, or see your documents with /documents. For example:")
    )


def example_buttons(document: OwnerDocument, _: Translate) -> InlineKeyboardMarkup:
    """Two example questions about the document (`docask:<id>:<n>`)."""
    return InlineKeyboardMarkup(
        [
            [InlineKeyboardButton(question, callback_data=f"docask:{document.id}:{n}")]
            for n, question in enumerate(example_questions(document, _))
        ]
    )


def example_questions(document: OwnerDocument, _: Translate) -> list[str]:
    title = document.title or document.file_name
    short = title if len(title) <= SHOWN_TITLE else title[: SHOWN_TITLE - 1].rstrip() + "…"
    return [_(example).format(title=short) for example in EXAMPLES]


async def example_pressed(update: Update, context: BotContext) -> None:
    """A tap on an example question: asks it, only for the document's owner."""
    query = update.callback_query
    _kind, document_id, number = query.data.split(":")
    document = await context.deps.storage.get_document(user_key(update), int(document_id))
    if document is None or not is_private(update):
        await query.answer(texts_of(update, context)(GONE))
        return
    await acknowledge(update)
    questions = example_questions(document, texts_of(update, context))
    if int(number) < len(questions):
        await answer_question(update, context, questions[int(number)])


async def list_documents(update: Update, context: BotContext) -> None:
    """/documents: the owner's documents, each with a delete button (private chats only)."""
    _ = texts_of(update, context)
    if not is_private(update):
        await update.effective_message.reply_text(_("Send me documents in a private chat: they stay private to you."))
        return
    text, markup = await _listing(update, context, _)
    await update.effective_message.reply_text(text, parse_mode=ParseMode.HTML, reply_markup=markup)


async def _listing(update: Update, context: BotContext, _: Translate) -> tuple[str, InlineKeyboardMarkup | None]:
    documents = await context.deps.storage.documents_of(user_key(update))
    if not documents:
        return escape(_(NONE_YET)), None
    lines = ["<b>" + escape(_("Your documents (only you can ask about them):")) + "</b>"]
    buttons = []
    for number, document in enumerate(documents, start=1):
        details = [escape(f"“{document.title}”")] if document.title else []
        details += [escape(_("pages: {pages}").format(pages=document.pages))] if document.pages else []
        details.append(size_text(document.size_bytes or 0))
        lines.append(f"{number}. {escape(document.file_name)}: {', '.join(details)}")
        label = "🗑 " + _("Delete {name}").format(name=f"{number}. {document.file_name}"[:SHOWN_TITLE])
        buttons.append([InlineKeyboardButton(label, callback_data=f"docdel:{document.id}")])
    return "\n".join(lines), InlineKeyboardMarkup(buttons)


NONE_YET = N_(
    "You haven't sent me any documents. Send a PDF, Word (.docx), text or Markdown file and I'll answer "
    "your questions from it too, privately."
)


def documents_line(documents: list[OwnerDocument]) -> str:
    """What an admin sees of an owner's documents: that they exist, their names and sizes, never
    their content (admins' texts are in English)."""
    listed = "; ".join(
        f"{d.file_name} ({size_text(d.size_bytes or 0)}{f', {d.pages} pages' if d.pages else ''}, "
        f"{d.created_at:%Y-%m-%d})"
        for d in documents
    )
    return f"Documents ({len(documents)}, content private to the owner): {listed}"


def size_text(size: int) -> str:
    return f"{size / MB:.1f} MB" if size >= MB else f"{max(1, round(size / 1024))} KB"


async def delete_pressed(update: Update, context: BotContext) -> None:
    """A delete button of /documents: only the owner's own document goes, its passages first."""
    query, owner = update.callback_query, user_key(update)
    _ = texts_of(update, context)
    document = await context.deps.storage.get_document(owner, int(query.data.split(":")[1]))
    if document is None:
        await query.answer(_(GONE))
        return
    await _drop(context, document)
    await query.answer(_("Deleted {name} and everything I read from it.").format(name=document.file_name))
    text, markup = await _listing(update, context, _)
    with contextlib.suppress(TelegramError):  # the list is a courtesy: the deletion is done
        await query.edit_message_text(text, parse_mode=ParseMode.HTML, reply_markup=markup)


async def share_in_handover(update: Update, context: BotContext, data: bytes, name: str) -> bool:
    """While a consultant has the owner's request, the document goes to them too (the owner
    shares it by sending it then); True when it reached a card's thread."""
    deps = context.deps
    active, _expired = await deps.storage.active_handover(user_key(update))
    if active is None:
        return False
    who = update.effective_user.full_name or "The owner"
    shared = False
    for chat, card in await deps.storage.handover_cards(active.id):
        try:
            sent = await context.bot.send_document(
                chat,
                document=data,
                filename=name,
                caption=f"📎 {who} (#{active.id}) shared a document: {name}",
                reply_to_message_id=card,
                allow_sending_without_reply=True,
            )
        except TelegramError:
            log.warning("could not pass a document of hand-over %s to chat %s", active.id, chat, exc_info=True)
            continue
        await deps.storage.add_handover_message(chat, sent.message_id, active.id, f"[document] {name}")
        shared = True
    return shared


async def expire_and_sweep(context: BotContext) -> None:
    """Daily job (its first run seconds after a start): documents older than RETENTION_DAYS go
    (passages first); so do documents whose storing a killed bot left unfinished (fewer passages
    than their row says, sent over UNFINISHED_AFTER ago: listed, but never citable); then passages
    whose document row is gone (after the command line's forget or prune) are swept."""
    deps = context.deps
    store = deps.advisor.owner_documents
    if not store.created and not await deps.storage.all_document_keys():
        return  # no owner has sent a document: no passages, no rows (and Chroma stays unloaded)
    if deps.settings.retention_days:
        expired = [d.id for d in await deps.storage.documents_older_than(deps.settings.retention_days)]
        for start in range(0, len(expired), RETENTION_BATCH):  # passages first, then their rows
            batch = expired[start : start + RETENTION_BATCH]
            await asyncio.to_thread(store.delete_documents, batch)
            await deps.storage.delete_documents(batch)
        if expired:
            log.info("owners' documents: deleted %d past RETENTION_DAYS", len(expired))
    counts = await asyncio.to_thread(store.passage_counts)
    for document in await deps.storage.documents_older_than(UNFINISHED_AFTER / dt.timedelta(days=1)):
        if counts.get((document.user_id, document.id), 0) < (document.chunks or 0):
            log.info("document %s of %s was left unfinished by a stopped bot; deleted", document.id, document.user_id)
            await _drop(context, document)
    stored = await asyncio.to_thread(store.document_keys)
    # listed after the scan: a document's row is written before its passages, so one stored
    # during the scan is listed here too, and kept
    swept = sorted(stored - await deps.storage.all_document_keys())
    for owner, document in swept:
        await asyncio.to_thread(store.delete, owner, document)
    if swept:
        log.info("owners' documents: swept the passages of %d deleted documents", len(swept))


HANDLERS = [
    MessageHandler(MESSAGES & filters.Document.ALL, document_received),
    CommandHandler("documents", list_documents, filters=MESSAGES),
    CallbackQueryHandler(example_pressed, pattern=r"^docask:\d+:\d$"),
    CallbackQueryHandler(delete_pressed, pattern=r"^docdel:\d+$"),
]
