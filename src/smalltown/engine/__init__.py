"""The world simulation, pure: no I/O, time and randomness passed in.

The same world, inputs, times and seed always give the same next world, bit for bit; that
is what lets a world be replayed from its input log.
"""
