"""restic repositories: restic's REST backend protocol (v1 and v2) on syncapp's users and stores."""
