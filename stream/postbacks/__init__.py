"""Conversion postbacks to ad platforms (docs/postbacks.md): the pure decision in the stream processor, the
outbox it writes, and the `touchstream postbacks` worker that sends."""
