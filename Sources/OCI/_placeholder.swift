// OCI
