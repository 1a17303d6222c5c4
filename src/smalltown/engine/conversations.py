"""Conversations: invited → walking over → participating, and how they end.

Walking over, the two head for a meeting point: two neighbouring tiles near the middle
between them that neither the map nor anyone else blocks and that both can reach. Each
is sent to its tile once; a new meeting point (and a new path) is planned only when their
goals no longer meet: one was stopped short (someone stands on its tile), gave up, or
arrived without meeting the other.

A group is three or more: a player near a conversation joins it (``join``), anyone may
leave and the rest go on while two remain. Its turns go by ``next_speaker``: who the
latest line named, who has something to add (a score the line's writer attaches), and who
has been quiet longest. Two keep AI Town's rules.
"""

from __future__ import annotations

from smalltown.engine.constants import (
    ADDRESSED_WEIGHT,
    AGENT_OPERATION_TIMEOUT_MS,
    CONVERSATION_DISTANCE,
    INVITE_TIMEOUT_MS,
    JOIN_DISTANCE,
    MAX_CONVERSATION_MS,
    MAX_GROUP_SIZE,
    MAX_RELEVANCE,
    QUIET_FULL_MS,
    TYPING_TIMEOUT_MS,
)
from smalltown.engine.context import StepContext
from smalltown.engine.geometry import Point, facing_between, midpoint
from smalltown.engine.movement import someone_near, stop, walk_to
from smalltown.engine.pathfinding import (
    NEIGHBOURS,
    Tile,
    nearest_free,
    regions,
    regions_from,
)
from smalltown.engine.state import Conversation, Participant, Player


def start_conversation(ctx: StepContext, creator: str, invitee: str) -> Conversation:
    conversation = Conversation(
        id=ctx.world.allocate_id("c"),
        creator=creator,
        created=ctx.now,
        participants={
            creator: Participant(creator, ctx.now, "walkingOver"),
            invitee: Participant(invitee, ctx.now, "invited"),
        },
    )
    ctx.world.add_conversation(conversation)
    return conversation


def tick_conversations(ctx: StepContext, now: float) -> None:
    world = ctx.world
    for conversation in list(world.conversations.values()):
        if conversation.typing is not None and now - conversation.typing[2] > TYPING_TIMEOUT_MS:
            conversation.typing = None
        for member in list(conversation.participants.values()):
            if member.player_id not in world.players and conversation.id in world.conversations:
                ctx.leave_conversation(conversation, member.player_id)
        members = list(conversation.participants.values())
        if conversation.id not in world.conversations:
            continue
        if len(members) < 2:
            ctx.end_conversation(conversation)
            continue
        if len(members) > 2:  # a group: those invited in walk up to it
            started = min(m.started or now for m in members)
            if now - started > MAX_CONVERSATION_MS + AGENT_OPERATION_TIMEOUT_MS:
                ctx.end_conversation(conversation)
                continue
            for member in members:
                if member.status != "participating" and conversation.id in world.conversations:
                    _toward_group(ctx, conversation, member, now)
            continue
        a, b = members
        if "participating" in (a.status, b.status):
            started = min(m.started or now for m in members)
            if now - started > MAX_CONVERSATION_MS + AGENT_OPERATION_TIMEOUT_MS:
                # Nobody managed to say goodbye (an LLM that never answers, say): end it
                # anyway, so no one is held in a conversation forever.
                ctx.end_conversation(conversation)
            continue
        if now - max(a.invited, b.invited) > INVITE_TIMEOUT_MS:
            ctx.end_conversation(conversation)  # not accepted, or never met, in time
            continue
        if a.status == "invited" or b.status == "invited":
            continue
        pa, pb = world.players[a.player_id], world.players[b.player_id]
        distance = pa.position.distance(pb.position)
        if distance < CONVERSATION_DISTANCE:
            for member, player, other in ((a, pa, pb), (b, pb, pa)):
                member.status, member.started = "participating", now
                stop(player)
                player.facing = facing_between(player.position, other.position, player.facing)
            continue
        if goal(pa).distance(goal(pb)) < CONVERSATION_DISTANCE:
            continue  # on their way to meet: nothing to plan
        meeting = meeting_tiles(ctx, pa, pb)
        if meeting is None:
            ctx.end_conversation(conversation)  # the map keeps them apart
            continue
        for player, (x, y) in zip((pa, pb), meeting, strict=True):
            target = Point(float(x), float(y))
            if goal(player).distance(target) > 1e-6:
                walk_to(player, target, now)


def why_not_join(ctx: StepContext, conversation: Conversation, player: Player) -> str | None:
    """Why ``player`` cannot join ``conversation`` now; None when it can."""
    world = ctx.world
    if world.conversation_of(player.id) is not None:
        return f"{player.id} is already in a conversation"
    members = list(conversation.participants.values())
    if len(members) < 2 or any(m.status != "participating" for m in members):
        return f"conversation {conversation.id} has not started yet"
    if len(members) >= MAX_GROUP_SIZE:
        return f"conversation {conversation.id} is full ({MAX_GROUP_SIZE} people)"
    nearest = min(world.players[m.player_id].position.distance(player.position) for m in members)
    if nearest > JOIN_DISTANCE:
        return f"walk within {JOIN_DISTANCE:g} tiles of conversation {conversation.id} to join it"
    return None


def join_group(ctx: StepContext, conversation: Conversation, player: Player) -> None:
    """``player`` (checked by ``why_not_join``) joins at once, facing the nearest member."""
    world, now = ctx.world, ctx.now
    nearest = min(
        (world.players[p] for p in conversation.participants),
        key=lambda other: (other.position.distance(player.position), other.id),
    )
    if len(conversation.participants) == 2 and conversation.last_message is not None:
        author, at = conversation.last_message  # the two's turns so far, as a group's
        conversation.spoke.setdefault(author, at)
    world.add_member(conversation, Participant(player.id, now, "participating", now))
    stop(player)
    player.activity = None
    player.facing = facing_between(player.position, nearest.position, player.facing)


def invite_to_group(ctx: StepContext, conversation: Conversation, invitee: Player) -> None:
    """A participant asks ``invitee`` into their conversation: invited, then walking over."""
    ctx.world.add_member(conversation, Participant(invitee.id, ctx.now, "invited"))


def _toward_group(
    ctx: StepContext, conversation: Conversation, member: Participant, now: float
) -> None:
    """One invited into a group: given up on after the invite timeout; walking over, it
    heads for a free tile by the nearest member and, there, takes part."""
    if now - member.invited > INVITE_TIMEOUT_MS:
        ctx.leave_conversation(conversation, member.player_id)
        return
    if member.status != "walkingOver":
        return
    world = ctx.world
    player = world.players[member.player_id]
    talking = [
        world.players[m.player_id]
        for m in conversation.participants.values()
        if m.status == "participating"
    ]
    nearest = min(talking, key=lambda p: (p.position.distance(player.position), p.id))
    if player.position.distance(nearest.position) < CONVERSATION_DISTANCE + 0.5:
        member.status, member.started = "participating", now
        stop(player)
        player.facing = facing_between(player.position, nearest.position, player.facing)
        return
    if goal(player).distance(nearest.position) < CONVERSATION_DISTANCE + 0.5:
        return  # on its way
    tile = nearest_free(
        ctx.world_map,
        nearest.position.tile(),
        lambda t: (
            ctx.world_map.inside(*t)
            and not ctx.world_map.blocked(*t)
            and not someone_near(ctx, t, player)
        ),
    )
    if tile is None:
        ctx.leave_conversation(conversation, member.player_id)  # nowhere to stand
        return
    walk_to(player, Point(float(tile[0]), float(tile[1])), now)


def next_speaker(
    world_players: dict[str, Player], conversation: Conversation, now: float, agents_only: bool
) -> str | None:
    """Whose turn it is in a group: anyone but the latest speaker, scored by being named
    in the latest line, having something to add and having been quiet; ties by id."""
    last = conversation.last_message
    best: tuple[float, str] | None = None
    for player_id, member in conversation.participants.items():
        if member.status != "participating" or (last is not None and player_id == last[0]):
            continue
        player = world_players.get(player_id)
        if player is None or (agents_only and player.human is not None):
            continue
        quiet_since = conversation.spoke.get(player_id, member.started or conversation.created)
        score = (
            (ADDRESSED_WEIGHT if player_id in conversation.addressed else 0.0)
            + min(max(conversation.relevance.get(player_id, 0.0), 0.0), MAX_RELEVANCE)
            + min(max(now - quiet_since, 0.0) / QUIET_FULL_MS, 1.0)
        )
        if best is None or (-score, player_id) < (-best[0], best[1]):
            best = (score, player_id)
    return None if best is None else best[1]


def goal(player: Player) -> Point:
    """Where the player is headed: its destination, or where it stands."""
    pf = player.pathfinding
    return player.position if pf is None else pf.destination


def meeting_tiles(ctx: StepContext, pa: Player, pb: Player) -> tuple[Tile, Tile] | None:
    """Two neighbouring tiles for ``pa`` and ``pb`` to meet on (``pa``'s first), nearest
    the middle between them: open (no object, nobody else within the collision distance)
    and in a region both can walk to. None when no region is shared."""
    world_map = ctx.world_map
    shared = regions_from(world_map, pa.position.tile()) & regions_from(
        world_map, pb.position.tile()
    )
    if not shared:
        return None
    labels, width = regions(world_map), world_map.width

    def open_tile(tile: Tile) -> bool:
        x, y = tile
        return (
            world_map.inside(x, y)
            and labels[y * width + x] in shared
            and not someone_near(ctx, tile, pa, pb)
        )

    def partners(tile: Tile) -> list[Tile]:
        x, y = tile
        return [(x + dx, y + dy) for dx, dy in NEIGHBOURS if open_tile((x + dx, y + dy))]

    centre = midpoint(pa.position, pb.position).tile()
    first = nearest_free(world_map, centre, lambda t: open_tile(t) and bool(partners(t)))
    if first is None:
        return None
    best: tuple[float, Tile, Tile] | None = None
    for second in partners(first):
        for ta, tb in ((first, second), (second, first)):
            cost = _distance(pa.position, ta) + _distance(pb.position, tb)
            if best is None or (cost, ta, tb) < best:
                best = (cost, ta, tb)
    assert best is not None
    return best[1], best[2]


def _distance(point: Point, tile: Tile) -> float:
    return point.distance(Point(float(tile[0]), float(tile[1])))
