"""`field__any=[...]`: `column = ANY(%s)` with the whole list as ONE parameter.

Django's `__in` turns a list into one placeholder per value: each value is prepared and
resolved in Python and the statement's text grows with the list. A change-feed page of
1,000 entries filters by ~600 keys in each of its queries, and that Python work was
~40 ms of a ~300 ms page (docs/BENCHMARKS.md, "The change feed's Python"). PostgreSQL
plans `= ANY(array)` exactly as it plans `IN (list)` (both are a ScalarArrayOpExpr: an
index scan with the array as its keys), so the plan does not change, only the cost of
building the statement.
"""

from __future__ import annotations

from typing import Any

from django.db.models import Field, Lookup
from django.db.models.fields.related import ForeignObject


class EqualsAny(Lookup):
    lookup_name = "any"
    prepare_rhs = False

    def get_db_prep_lookup(self, value: Any, connection: Any) -> Any:
        return "%s", [list(value)]

    def as_sql(self, compiler: Any, connection: Any) -> Any:
        lhs, lhs_params = self.process_lhs(compiler, connection)
        rhs, rhs_params = self.process_rhs(compiler, connection)
        return f"{lhs} = ANY({rhs})", [*lhs_params, *rhs_params]


Field.register_lookup(EqualsAny)
# A foreign key (`shipment_id__any`) looks up only what its own class registered.
ForeignObject.register_lookup(EqualsAny)
