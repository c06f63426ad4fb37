// The browser flow of `npm run e2e` (run.mjs starts the server and the browser): two people
// sign up, share an org, and work on one board; each step names what it checks.
import { expect } from './expect.mjs';

export async function flow({ base, launch, watch, shot, log, password }) {
  const a = await launch();
  watch('A', a.page);
  const pageA = a.page;
  let step = '';
  const run = async (name, fn) => {
    step = name;
    log(`step: ${name}`);
    await fn();
  };
  const pages = [['A', pageA]];
  try {
    // ------------------------------------------------------------ A signs up ----
    await run('A signs up on the issuer page', async () => {
      await pageA.goto(`${base}/`);
      await pageA.getByRole('button', { name: 'Sign in or create an account' }).click();
      await pageA.waitForURL(/\/oidc\/authorize/);
      await signUp(pageA, 'alice@example.com', 'Alice Example', password);
      await pageA.waitForURL(/\/orgs\/new$/);
    });

    let orgId = '';
    await run('A creates an org', async () => {
      await pageA.getByLabel('Name', { exact: true }).fill('Acme Launch Team');
      await expect(() => pageA.getByLabel(/Short name/).inputValue(), 'acme-launch-team');
      await pageA.getByRole('button', { name: 'Create organization' }).click();
      await pageA.waitForURL(/\/orgs\/[0-9a-f-]{36}\/projects$/);
      orgId = pageA.url().match(/\/orgs\/([0-9a-f-]{36})\//)[1];
      await pageA.getByRole('heading', { name: 'Projects' }).waitFor();
      await pageA.getByText('No projects yet').waitFor();
    });

    let boardUrl = '';
    await run('A creates a project', async () => {
      await pageA.getByLabel('Project name').fill('Spring launch');
      await pageA.getByRole('button', { name: 'Create project' }).click();
      await pageA.waitForURL(/\/projects\/[0-9a-f-]{36}$/);
      boardUrl = pageA.url();
      await pageA.getByRole('heading', { name: 'Spring launch' }).waitFor();
      await pageA.getByText('No tasks yet').waitFor();
    });

    const column = (page, status) => page.locator(`section.column[data-status="${status}"]`);
    const card = (page, title) =>
      page.locator('li.card').filter({ has: page.getByRole('link', { name: title, exact: true }) });
    const inColumn = async (page, title, status) =>
      column(page, status)
        .locator('li.card')
        .filter({ has: page.getByRole('link', { name: title, exact: true }) })
        .waitFor();

    await run('A creates a task', async () => {
      await pageA.getByLabel('New task').fill('Write the announcement');
      await pageA.getByRole('button', { name: 'Add task' }).click();
      await inColumn(pageA, 'Write the announcement', 'todo');
    });

    await run('A moves the task with the keyboard (arrow right)', async () => {
      await card(pageA, 'Write the announcement').focus();
      await pageA.keyboard.press('ArrowRight');
      await inColumn(pageA, 'Write the announcement', 'in_progress');
      await expect(
        () => pageA.getByTestId('announcer').textContent(),
        'Moved "Write the announcement" to In progress.',
      );
      // Focus stays on the moved card, so the next arrow key moves it again.
      await expect(
        () => pageA.evaluate(() => document.activeElement?.getAttribute('aria-label') ?? ''),
        'Write the announcement, In progress',
      );
    });

    await run('A moves a task by drag and drop', async () => {
      await pageA.getByLabel('New task').fill('Book the venue');
      await pageA.getByRole('button', { name: 'Add task' }).click();
      await inColumn(pageA, 'Book the venue', 'todo');
      await card(pageA, 'Book the venue').dragTo(column(pageA, 'in_progress'));
      await inColumn(pageA, 'Book the venue', 'in_progress');
    });

    await run('A sees only allowed moves offered (done offers only In progress)', async () => {
      await card(pageA, 'Book the venue').getByRole('button', { name: 'Move to Done' }).click();
      await inColumn(pageA, 'Book the venue', 'done');
      const moves = await card(pageA, 'Book the venue')
        .locator('button.move')
        .evaluateAll((buttons) => buttons.map((b) => b.getAttribute('aria-label')));
      if (moves.join('|') !== 'Move to In progress') throw new Error(`moves from done: ${moves}`);
    });
    await shot(pageA, 'board');

    await run('A opens the task, edits it and comments', async () => {
      await pageA.getByRole('link', { name: 'Write the announcement', exact: true }).click();
      await pageA.getByRole('heading', { name: 'Write the announcement' }).waitFor();
      await pageA.getByLabel('Priority').selectOption({ label: 'High' });
      await pageA.getByLabel('Labels (comma-separated)').fill('marketing, launch');
      await pageA.getByLabel('Description').fill('A short post for the blog and the newsletter.');
      await pageA.getByRole('button', { name: 'Save changes' }).click();
      await pageA.getByText('Saved.', { exact: true }).waitFor();
      await pageA.getByLabel('Add a comment').fill('First draft is in the shared doc.');
      await pageA.getByRole('button', { name: 'Post comment' }).click();
      await pageA
        .locator('.comment-body', { hasText: 'First draft is in the shared doc.' })
        .waitFor();
      await pageA.getByRole('button', { name: 'Edit', exact: true }).click();
      await pageA.getByLabel('Edit comment').fill('First draft is in the shared doc (v2).');
      await pageA.getByRole('button', { name: 'Save comment' }).click();
      await pageA.locator('.comment-body', { hasText: '(v2)' }).waitFor();
    });
    await shot(pageA, 'task-detail');

    await run('A invites B on the members screen', async () => {
      await pageA.getByRole('link', { name: 'Members' }).click();
      await pageA.getByRole('heading', { name: 'Members' }).waitFor();
      await pageA.getByLabel('Email').fill('bob@example.com');
      await pageA.getByLabel('Role', { exact: true }).selectOption('member');
      await pageA.getByRole('button', { name: 'Send invitation' }).click();
      await pageA
        .getByRole('row', { name: /bob@example.com/ })
        .getByText('invited')
        .waitFor();
    });
    await shot(pageA, 'members');

    await run('A creates an API key; the secret is shown once', async () => {
      await pageA.getByRole('link', { name: 'API keys' }).click();
      await pageA.getByText('No API keys yet.').waitFor();
      await pageA.getByLabel('Name').fill('CI deploys');
      await pageA.getByRole('button', { name: 'Create API key' }).click();
      const secret = await pageA.getByRole('textbox', { name: 'Secret' }).inputValue();
      if (!/^trk_[A-Za-z0-9_-]{43}$/.test(secret)) throw new Error(`odd secret ${secret}`);
      await pageA.getByText('This is the only time it is shown.').waitFor();
      await shot(pageA, 'api-keys');
      await pageA.getByRole('button', { name: /I have stored it/ }).click();
      await pageA.getByRole('row', { name: /CI deploys/ }).waitFor();
    });

    await run('A reads the audit log', async () => {
      await pageA.getByRole('link', { name: 'Audit log' }).click();
      await pageA.getByRole('heading', { name: 'Audit log' }).waitFor();
      // The audit projection records events shortly after they happen.
      for (let i = 0; i < 20; i += 1) {
        if ((await pageA.locator('table.audit tbody tr').count()) > 3) break;
        await pageA.waitForTimeout(250);
        await pageA.getByRole('button', { name: 'Apply filters' }).click();
      }
      await pageA.locator('table.audit').getByText('work.task.created').first().waitFor();
      await pageA.getByLabel('Action').fill('work.comment.created');
      await pageA.getByRole('button', { name: 'Apply filters' }).click();
      await expect(() => pageA.locator('table.audit tbody tr').count(), 1);
    });
    await shot(pageA, 'audit');

    await run('an expired access token is refreshed once and the call retried (401)', async () => {
      const swap = await pageA.evaluate(() => {
        const key = Object.keys(sessionStorage).find((k) => k.startsWith('oidc.user:'));
        const user = JSON.parse(sessionStorage.getItem(key));
        const before = user.access_token;
        user.access_token = 'not-a-valid-token';
        sessionStorage.setItem(key, JSON.stringify(user));
        return { key, before };
      });
      const refreshed = pageA.waitForResponse(
        (r) => r.url().endsWith('/oidc/token') && r.request().method() === 'POST',
      );
      await pageA.getByRole('link', { name: 'Members' }).click();
      if ((await refreshed).status() !== 200) throw new Error('the refresh failed');
      await pageA.getByRole('row', { name: /bob@example.com/ }).waitFor();
      const after = await pageA.evaluate(
        (key) => JSON.parse(sessionStorage.getItem(key)).access_token,
        swap.key,
      );
      if (after === 'not-a-valid-token' || after === swap.before) {
        throw new Error('the stored access token was not renewed');
      }
    });

    // --------------------------------------------------- B joins and watches ----
    const b = await launch();
    watch('B', b.page);
    const pageB = b.page;
    pages.push(['B', pageB]);
    await run(
      'B opens the board: the guard sends B to sign in; B signs up and lands on it',
      async () => {
        await pageA.goto(boardUrl);
        await pageA.getByRole('heading', { name: 'Spring launch' }).waitFor();
        await pageB.goto(boardUrl);
        await pageB.waitForURL(/\/oidc\/authorize/);
        await signUp(pageB, 'bob@example.com', 'Bob Example', password);
        await pageB.waitForURL(boardUrl);
        await pageB.getByRole('heading', { name: 'Spring launch' }).waitFor();
        await inColumn(pageB, 'Write the announcement', 'in_progress');
      },
    );

    await run('A creates and moves a task; B sees both without reloading', async () => {
      await pageA.getByLabel('New task').fill('Order the snacks');
      await pageA.getByRole('button', { name: 'Add task' }).click();
      await inColumn(pageB, 'Order the snacks', 'todo');
      await card(pageA, 'Order the snacks')
        .getByRole('button', { name: 'Move to In progress' })
        .click();
      await inColumn(pageB, 'Order the snacks', 'in_progress');
    });

    await run('a stale move (412) shows the conflict message', async () => {
      // B stops hearing about changes: its event stream is blocked, the board reloaded.
      await pageB.route('**/api/v1/orgs/*/events*', (route) => route.abort());
      await pageB.reload();
      await inColumn(pageB, 'Order the snacks', 'in_progress');
      await card(pageA, 'Order the snacks').getByRole('button', { name: 'Move to Done' }).click();
      await inColumn(pageA, 'Order the snacks', 'done');
      // B still shows it in progress, and moves it with the old version.
      await card(pageB, 'Order the snacks').getByRole('button', { name: 'Move to To do' }).click();
      await pageB
        .getByRole('alert')
        .filter({
          hasText:
            'This task was changed by someone else — the board has been refreshed; try again.',
        })
        .waitFor();
      await inColumn(pageB, 'Order the snacks', 'done');
    });
    await shot(pageB, 'board-conflict');

    await run('the board works at 375 px', async () => {
      await pageA.setViewportSize({ width: 375, height: 812 });
      await pageA.reload();
      await inColumn(pageA, 'Order the snacks', 'done');
      const overflow = await pageA.evaluate(
        () => document.documentElement.scrollWidth - document.documentElement.clientWidth,
      );
      if (overflow > 1) throw new Error(`the page scrolls sideways by ${overflow} px at 375 px`);
      await shot(pageA, 'board-375px');
      await pageA.getByRole('button', { name: 'Menu' }).click();
      await pageA.getByRole('link', { name: 'Members' }).waitFor();
      await pageA.setViewportSize({ width: 1280, height: 860 });
    });

    await run('A archives the project (read-only board), then unarchives it', async () => {
      await pageA.goto(boardUrl);
      await pageA.getByText('Live', { exact: true }).waitFor();
      await pageA.getByRole('button', { name: 'Archive project' }).click();
      await pageA.getByText('archived (read-only)').waitFor();
      if ((await pageA.getByLabel('New task').count()) !== 0) throw new Error('still editable');
      if ((await pageA.locator('button.move').count()) !== 0) throw new Error('moves offered');
      await pageA.getByRole('button', { name: 'Unarchive project' }).click();
      await pageA.getByLabel('New task').waitFor();
    });

    await run('A signs out; a guarded route then leads to the sign-in page', async () => {
      await pageA.goto(boardUrl);
      await pageA.getByRole('button', { name: 'Sign out' }).click();
      await pageA.getByRole('button', { name: 'Sign in or create an account' }).waitFor();
      await pageA.goto(`${base}/orgs/${orgId}/members`);
      await pageA.waitForURL(/\/oidc\/authorize/);
      await pageA.getByRole('heading', { name: 'Sign in to Trellis' }).waitFor();
    });
  } catch (e) {
    for (const [who, page] of pages) {
      await shot(page, `failure-${who}`).catch(() => undefined);
    }
    throw new Error(`step "${step}": ${e instanceof Error ? e.message : e}`);
  }
}

async function signUp(page, email, name, password) {
  await page.getByRole('heading', { name: 'Sign in to Trellis' }).waitFor();
  await page.locator('#signup-email').fill(email);
  await page.locator('#signup-name').fill(name);
  await page.locator('#signup-password').fill(password);
  await page.getByRole('button', { name: 'Create account' }).click();
}
