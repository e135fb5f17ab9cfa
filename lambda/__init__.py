"""Lambda function sources, zipped at deploy time."""
