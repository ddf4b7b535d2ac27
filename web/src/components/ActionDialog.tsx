import type { ReactElement, ReactNode } from 'react';
import { Dialog } from './Dialog';
import { Button, Callout, CopyValue, ErrorText } from './ui';
import { useAction } from '../hooks';

type Action = ReturnType<typeof useAction>;

/**
 * A dialog whose form does one thing: Cancel and a submit button in the footer, and the
 * error of the last attempt (with the server's details) in the footer beside them, so it is
 * in view after Save however long the form is (cleared by any edit). `notice` shows there too:
 * a warning to read before submitting. A danger dialog starts on Cancel, so Enter does not
 * destroy anything by accident.
 */
export function FormDialog({
  title,
  action,
  onSubmit,
  onClose,
  submitLabel = 'Save',
  submitIcon,
  tone = 'default',
  size,
  icon,
  notice,
  children,
}: {
  title: string;
  /** The `useAction()` that `onSubmit` runs in: its busy state and error show here. */
  action: Action;
  onSubmit(): void;
  onClose(): void;
  submitLabel?: string;
  submitIcon?: ReactElement;
  tone?: 'default' | 'danger';
  size?: 'medium' | 'large';
  icon?: ReactNode;
  notice?: ReactNode;
  children: ReactNode;
}) {
  const danger = tone === 'danger';
  return (
    <Dialog
      title={title}
      tone={tone}
      size={size}
      icon={icon}
      onClose={onClose}
      onSubmit={onSubmit}
      onEdit={danger ? undefined : () => action.setError(undefined)}
      footer={
        <>
          {(notice || action.error) && (
            <div className="dialog-footer-note">
              {notice}
              <ErrorText message={action.error} details={action.details} />
            </div>
          )}
          <Button onClick={onClose} data-autofocus={danger || undefined}>
            Cancel
          </Button>
          <Button tone={danger ? 'danger' : 'primary'} type="submit" busy={action.busy}>
            {submitIcon && <>{submitIcon} </>}
            {submitLabel}
          </Button>
        </>
      }
    >
      {children}
    </Dialog>
  );
}

/** "Delete X?": says what is lost (`children`), and runs `onConfirm` only when the person confirms. */
export function ConfirmDeleteDialog({
  title,
  confirmLabel,
  confirmIcon,
  icon,
  onConfirm,
  onClose,
  children,
}: {
  title: string;
  confirmLabel: string;
  confirmIcon?: ReactElement;
  icon?: ReactNode;
  /** Does the deletion and what follows it; an error it throws shows in the dialog. */
  onConfirm(): Promise<void>;
  onClose(): void;
  children: ReactNode;
}) {
  const action = useAction();
  return (
    <FormDialog title={title} tone="danger" icon={icon} action={action} onSubmit={() => void action.run(onConfirm)} onClose={onClose} submitLabel={confirmLabel} submitIcon={confirmIcon}>
      {children}
    </FormDialog>
  );
}

/**
 * The answer to an invitation: without SMTP_URL its one-time link, which the person who asked
 * for it passes on; with it, word that the link went to the address by mail (nobody else sees it).
 */
export function InvitationDialog({ url, onClose, children, warning }: { url?: string | undefined; onClose(): void; children: ReactNode; warning?: ReactNode }) {
  return (
    <Dialog
      title={url ? 'Invitation link' : 'Invitation sent'}
      onClose={onClose}
      footer={
        <Button tone="primary" onClick={onClose} data-autofocus>
          Done
        </Button>
      }
    >
      <p>{children}</p>
      {url && (
        <>
          <CopyValue value={url} what="invitation link" className="block" />
          <Callout tone="warning">Anyone with this link can accept it, and set the password of an account that has none; send it only to the owner of the address.</Callout>
        </>
      )}
      {warning}
    </Dialog>
  );
}
