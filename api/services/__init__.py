"""The service's domain work, callable without HTTP (nothing here imports FastAPI or Starlette).

``state`` loads the model, index and caches once; ``search`` embeds queries and searches; ``updates`` adds and
removes tracks; ``analysis`` tags and scores clips; ``windows`` finds each result's best moment; ``errors`` are
the client errors the HTTP layer (``api.errors``) turns into JSON responses.
"""
