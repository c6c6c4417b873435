"""pygeoapi processes of Stadsmodel: ``location_check.LocationCheckProcessor`` (process id ``location-check``)."""
