"""The vault as this service sees it: the gRPC client (`client`) and the secret kinds (`kinds`)."""
