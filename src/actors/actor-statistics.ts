/**
 * Per-actor counts from the inspection stream, for the SIGUSR2 dump: how
 * many events each live actor has received. An actor's count goes when the
 * actor ends, so the table holds only what is alive.
 */
import type { AnyActorRef, InspectionEvent } from 'xstate';

export class ActorStatistics {
  private readonly events = new Map<string, number>();

  note(event: InspectionEvent): void {
    if (event.type === '@xstate.event') {
      const id = (event.actorRef as AnyActorRef).id;
      this.events.set(id, (this.events.get(id) ?? 0) + 1);
    } else if (event.type === '@xstate.snapshot') {
      const status = (event.snapshot as { status?: string }).status;
      if (status === 'done' || status === 'stopped' || status === 'error') this.events.delete((event.actorRef as AnyActorRef).id);
    }
  }

  eventsOf(actorId: string): number {
    return this.events.get(actorId) ?? 0;
  }
}
