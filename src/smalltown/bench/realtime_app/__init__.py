"""The app ``smalltown bench realtime`` serves: one counter everybody watches."""
