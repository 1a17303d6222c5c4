"""The game's rules in numbers (AI Town's values, where it has one). Times in ms, distances
in tiles."""

TICK_MS = 16
STEP_MS = 1000
MAX_INPUTS_PER_STEP = 32
MAX_PATHFINDS_PER_STEP = 16

SPEED_TILES_PER_S = 0.75
COLLISION_DISTANCE = 0.75  # another player nearer than this blocks a tile
PATHFINDING_BACKOFF_MS = 1000  # after a collision, wait up to this long and re-plan
PATHFINDING_TIMEOUT_MS = 60_000  # a destination not reached in this long is abandoned

INVITE_TIMEOUT_MS = 60_000  # an invite not accepted (or walk not finished) in this long ends
CONVERSATION_DISTANCE = 1.3  # within this, walking over becomes participating
TYPING_TIMEOUT_MS = 15_000  # a typing lock nobody finishes expires
MESSAGE_COOLDOWN_MS = 2_000  # between one message and the next
AWKWARD_SILENCE_MS = 60_000  # after this, the other participant speaks
MAX_CONVERSATION_MESSAGES = 8  # more than this and an agent leaves
MAX_CONVERSATION_MS = 10 * 60_000  # longer than this and an agent leaves
CONVERSATION_COOLDOWN_MS = 15_000  # rest after any conversation
PLAYER_CONVERSATION_COOLDOWN_MS = 60_000  # before the same two talk again
INVITE_ATTEMPT_COOLDOWN_MS = 15_000  # between one agent's invites
INVITE_ACCEPT_PROBABILITY = 0.8  # an agent accepts another agent's invite this often
ACTIVITY_MS = 60_000
ACTIVITY_COOLDOWN_MS = 10_000
AGENT_OPERATION_TIMEOUT_MS = 60_000  # an operation with no answer by then is dropped
HUMAN_IDLE_TIMEOUT_MS = 5 * 60_000  # a human with no input for this long is removed

# Groups (three or more; smalltown's own, AI Town's conversations have two)
JOIN_DISTANCE = 3.0  # within this of a participant, a player may join their conversation
MAX_GROUP_SIZE = 4  # a conversation takes no one more
GROUP_LINES_EACH = 4  # in a group, a member says goodbye after this many lines
ADDRESSED_WEIGHT = 3.0  # turn-taking: being named in the latest line
MAX_RELEVANCE = 2.0  # turn-taking: the most having something to add counts
QUIET_FULL_MS = 30_000  # turn-taking: silent this long counts in full
