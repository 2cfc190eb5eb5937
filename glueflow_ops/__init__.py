"""Operations on a deployed environment: `make redrive` (docs/architecture.md, decision 5)."""
