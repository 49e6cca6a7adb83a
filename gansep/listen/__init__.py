"""Listening tests: MUSHRA tests (ITU-R BS.1534-3) built from separations
(:mod:`~gansep.listen.build`), rated in a browser page (:mod:`~gansep.listen.page`) served by a
small storing server (:mod:`~gansep.listen.server`, SQLite through :mod:`~gansep.listen.store`),
and analysed against objective metrics (:mod:`~gansep.listen.metrics`,
:mod:`~gansep.listen.analysis`)."""
