"""Bring your AI Town: an AI Town checkout's characters, map and images read
(``js_data``, ``reader``) and written as a world (``install``), for ``smalltown aitown
import``."""
