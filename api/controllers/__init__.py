"""One controller per resource of the h2oGPTe REST API v1; every handler sets its documented status code."""
