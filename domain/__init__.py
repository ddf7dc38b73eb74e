"""What every layer of clew shares and none of them owns: the error tree (``domain.errors``)."""
