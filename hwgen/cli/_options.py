"""Options that several commands share (``--router`` of ``hwgen build`` and ``hwgen synth``)."""

__all__ = ["add_router_argument", "router_error"]


def add_router_argument(p):
    """``--router``, for ``hwgen build`` and ``hwgen synth``; check it with
    :func:`router_error`."""
    p.add_argument("--router", default=None, metavar="router1|router2",
                   help="nextpnr router (default router1, nextpnr's; router2 finishes large "
                        "congested ECP5 designs that router1 does not)")


def router_error(router):
    """The CLI's message for a ``--router`` value that is not one of
    :data:`hwgen.flow.synth.ROUTERS`, else None."""
    from ..flow.synth import ROUTERS
    if router is not None and router not in ROUTERS:
        return f"--router must be one of {', '.join(ROUTERS)}, not {router!r}"
    return None
