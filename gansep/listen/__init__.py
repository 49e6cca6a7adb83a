"""Listening tests: MUSHRA tests (ITU-R BS.1534-3) built from separations
(`build`), rated in a browser page (`page`) served by a
small storing server (`server`, SQLite through `store`),
and analysed against objective metrics (`metrics`,
`analysis`)."""
