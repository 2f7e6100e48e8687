export { parseJobEventMessage, JOB_EVENT_TOPICS, MESSAGE_EXCERPT_CHARS } from './job-event.js';
export type { JobEvent, JobEventTopic, JenkinsJobState, ParsedJobEventMessage } from './job-event.js';
export { jobEvents } from './zmq-listener.js';
export type { JobEventsOptions, PublisherEndpoints } from './zmq-listener.js';
export { JobEventPublisher, jenkinsEventMessage } from './job-event-publisher.js';
export type { JenkinsBuild, JobEventPublisherOptions } from './job-event-publisher.js';
