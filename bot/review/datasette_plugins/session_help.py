"""A Datasette plugin of `python -m bot review`: a visitor who is not logged in — the one-time
link was used already, the review restarted (which ends every session), the browser forgot
its cookie — gets a page that says how to get a new link, instead of Datasette's bare
"Forbidden — view-instance". Still a 403: nothing of the transcripts is shown.
"""

from __future__ import annotations

from datasette import hookimpl
from datasette.utils.asgi import Response


@hookimpl
def forbidden(datasette, request, message):
    async def page():
        context = {"logged_in": bool(request.actor), "message": message}
        html = await datasette.render_template("review_forbidden.html", context, request=request)
        return Response.html(html, status=403)

    return page
