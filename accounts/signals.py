"""What accounts announces to the layers above it, which it does not import.

`accounts_assigned` is sent by the services that give customer accounts an owning tenant
(`tenant_create_or_update`, `customer_account_save`), inside their transaction, with
`account_numbers`: the set of account numbers now owned. Events held until an account has
an owner wait above this layer, in integration's inbox, so integration connects the
receiver that releases them (`integration.receivers`, connected in its AppConfig.ready).
An explicit signal sent by a service, not a `post_save` hook: the one place that assigns
accounts says so (docs/ARCHITECTURE.md, "Who may import whom").
"""

from __future__ import annotations

from django.dispatch import Signal

accounts_assigned = Signal()
