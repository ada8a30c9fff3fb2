"""SQL helpers below the apps: bulk statements over arrays bound in binary (`bulk.py`)."""
