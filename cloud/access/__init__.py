"""Who may do what: accounts and roles, web sessions with CSRF tokens, API tokens with
scopes, the operator admin made at first start, and login rate limits."""
