"""Convex snapshot ZIPs: export (and, next, import) the way `npx convex` writes them."""
