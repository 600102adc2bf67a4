"""Device alert codes dnoctl acts on (DUIS ``DeviceAlertMessage/AlertCode``, GBCS alert codes)."""

# "User Interface Command Input and Successfully Actioned": the meter's alert for a press of
# its boost button (the GBCS payload says which command: activate or extend boost).
BOOST_ALERT_CODE = "8161"
