// Mounts
