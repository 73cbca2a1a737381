"""The regions where SES v2 is offered, and a short hint for a region name that is not one of them."""

import difflib

# AWS publishes the regions of each service as Systems Manager public parameters (AWS Systems
# Manager User Guide, "Calling AWS service, Region, and endpoint information from Parameter Store").
LIST_REGIONS_COMMAND = (
    "aws ssm get-parameters-by-path --path /aws/service/global-infrastructure/services/ses/regions "
    "--query 'Parameters[].Value' --output text"
)


def available_regions() -> list[str]:
    """Return the regions where botocore's bundled endpoint data lists SES v2 (no network)."""
    import boto3

    return boto3.session.Session().get_available_regions("sesv2")


def unknown_region_hint(region: str, known: list[str]) -> str:
    """Return "did you mean eu-west-1 or eu-west-2? ..." for a region that is not in `known`."""
    close = difflib.get_close_matches(region.strip().lower(), known, n=3, cutoff=0.6)
    listing = f"list the SES regions with `{LIST_REGIONS_COMMAND}`"
    if not close:
        return listing
    return f"did you mean {' or '.join(close)}? Otherwise {listing}"
