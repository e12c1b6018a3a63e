"""The one exception type the catalog raises for problems a user can cause or fix."""


class CatalogError(Exception):
    """A catalog, shard or index cannot be used; the message names what is wrong and how to fix it.

    The index package cannot import muscall, so this does not subclass ``muscall.errors.MuscallError``; callers
    (CLI, API) should catch both.
    """
