"""Device alert codes dnoctl acts on."""

# The alert an HCALCS's meter raises when the customer presses boost. A stand-in code until
# the GBCS codec reads the real alert (issue 13).
BOOST_ALERT_CODE = "8F3E"
