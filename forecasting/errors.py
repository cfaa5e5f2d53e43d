"""Errors of the forecasting domain; the API maps each to a status code in one place."""

from __future__ import annotations


class ForecastingError(Exception):
    """Base of every error the domain raises on purpose."""


class ProductNotFound(ForecastingError):
    """The product does not exist."""

    def __init__(self, product_id: int) -> None:
        super().__init__(f"Product {product_id} does not exist.")
        self.product_id = product_id


class InsufficientHistory(ForecastingError):
    """The product has too little sales history to train on."""

    def __init__(self, product_id: int, count: int, minimum: int) -> None:
        super().__init__(
            f"Product {product_id} has {count} days of sales history; "
            f"at least {minimum} (MIN_TRAINING_SAMPLES) are needed to train."
        )
        self.product_id = product_id
        self.count = count
        self.minimum = minimum


class ModelSetNotFound(ForecastingError):
    """No usable model set is stored for the product."""

    def __init__(self, product_id: int) -> None:
        super().__init__(f"No trained models are stored for product {product_id}.")
        self.product_id = product_id


class ModelIntegrityError(ForecastingError):
    """A stored artifact does not match the checksum recorded in model_info.json."""


class UnknownFormatError(ModelIntegrityError, ValueError):
    """A member's file holds a format version this code does not read.

    A ModelIntegrityError, so a set holding such a file is retrained like any other
    unreadable set; a ValueError, as the members raised before it existed.
    """


class UntrustedModelSet(ModelIntegrityError):
    """A model set whose model_info.json is not signed by a key the service holds: never unpickled."""

    def __init__(self, product_id: int, problem: str) -> None:
        super().__init__(f"Model set of product {product_id} is untrusted: {problem}; it was not loaded.")
        self.product_id = product_id
        self.problem = problem


class InvalidSalesData(ForecastingError):
    """Sales rows or a CSV file that cannot be imported, with the reason."""



class InvalidProductData(InvalidSalesData):
    """A product's name, key, id, country or subdivision that cannot be stored; ``field`` names it."""

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


class ProductExists(InvalidSalesData):
    """The product id or key asked for is already taken (a conflict, not malformed input)."""


class InvalidCalendarData(InvalidSalesData):
    """Calendar rows (open days, holidays, regressors) that cannot be stored, with the reason."""


class SchemaNotCurrent(ForecastingError):
    """The database's schema is not at this release's head revision; the remedy is in the message."""

    def __init__(self, message: str, *, current: str | None, head: str) -> None:
        super().__init__(message)
        self.current = current
        self.head = head


class UnknownSchema(ForecastingError):
    """An unversioned database holds tables that match no revision, so it cannot be adopted."""


class InvalidForecastOptions(ForecastingError):
    """A forecast request's options (levels, frequency, members, calendar overrides) that cannot be used."""

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field
