"""ARM's error shape: ``{"error": {"code": ..., "message": ...}}`` with the status ARM uses."""
from __future__ import annotations


class ArmError(Exception):
    def __init__(self, status: int, code: str, message: str, headers: dict | None = None,
                 details: list | None = None):
        super().__init__(f"{status} {code}: {message}")
        self.status = status
        self.code = code
        self.message = message
        self.headers = headers or {}
        self.details = details

    def body(self) -> dict:
        err = {"code": self.code, "message": self.message}
        if self.details:
            err["details"] = self.details
        return {"error": err}


def bad_request(code: str, message: str) -> ArmError:
    return ArmError(400, code, message)


def not_found(code: str, message: str) -> ArmError:
    return ArmError(404, code, message)
