from enum import StrEnum


class ExportStatus(StrEnum):
    COMPLETE = "Complete"
    INVALID = "Invalid"
    IN_PROGRESS = "InProgress"
    NOT_STARTED = "NotStarted"

    def __str__(self) -> str:
        return str(self.value)

    @classmethod
    def _missing_(cls, value: object) -> "ExportStatus | None":
        """Keep a value this version of the spec does not list, instead of raising ValueError."""
        if not isinstance(value, str):
            return None
        member = str.__new__(cls, value)
        member._name_ = "UNKNOWN"
        member._value_ = value
        return member

    @property
    def is_known(self) -> bool:
        """False for a value that this version of the spec does not list."""
        return self._name_ != "UNKNOWN"
