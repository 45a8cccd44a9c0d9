"""``python -m greeter``, also runnable by the host as the package's ``__main__``."""

from greeter import greet

print(greet(None))
