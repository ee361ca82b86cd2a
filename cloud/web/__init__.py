"""The built-in web UI: plain server-rendered pages, no CDN, no build step."""
