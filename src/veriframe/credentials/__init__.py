"""C2PA Content Credentials: keys, manifests, signing, reading, trust, the manifest store."""
