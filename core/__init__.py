"""The bottom layer: infrastructure that knows nothing of the domain.

`core` imports from no app of this project (accounts, visibility, integration, portal);
every app may import from it (docs/ARCHITECTURE.md, "Who may import whom").
"""
