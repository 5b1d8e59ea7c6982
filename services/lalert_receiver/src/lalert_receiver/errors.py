"""The one exception a request can be refused with."""


class Reject(Exception):
    """A publish request refused with a SOAP Fault.

    reason: short machine label (metrics label, Fault detail), e.g. bad_digest.
    message: the clear sentence the sender reads in faultstring.
    client: True when the sender is at fault (soap:Client), False for ours.
    """

    def __init__(self, reason, message, client=True):
        super().__init__(message)
        self.reason = reason
        self.message = message
        self.client = client
